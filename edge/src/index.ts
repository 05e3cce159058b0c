// Worker entry (wrangler.toml `main`).
import { app } from "./app.ts";

export default app;
