// Worker entry (wrangler.toml `main`).
import { app } from "./app.ts";

export { RunPublisher } from "./storage/run-publisher.ts";
export { LaunchBoard } from "./storage/launch-board.ts";

export default app;
