// Which Vulkan driver ORT's WebGPU EP (Dawn) will get. With a GPU device node present, the
// system's driver; without one, SwiftShader (a Vulkan implementation on the CPU, shipped by
// Chromium) when it is installed: Dawn takes it where it rejects Mesa's lavapipe. It is a
// software GPU, right for correctness checks and slow. Must run before the first WebGPU session:
// the Vulkan loader reads VK_ICD_FILENAMES when Dawn starts.
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";

export const SWIFTSHADER_ICDS = [
  "/usr/lib/chromium/vk_swiftshader_icd.json", // Debian, Ubuntu's chromium deb
  "/usr/lib64/chromium-browser/vk_swiftshader_icd.json", // Fedora
  "/opt/google/chrome/vk_swiftshader_icd.json", // Google Chrome
];

/** Where NVIDIA's container runtime mounts the driver's Vulkan ICD: outside the loader's search path. */
export const NVIDIA_CONTAINER_ICD = "/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json";

export interface WebGpuDriver {
  kind: "gpu" | "swiftshader" | "preset";
  /** One line for the user: the adapter and where it comes from. */
  description: string;
}

export class NoWebGpuDriverError extends Error {}

/** GPU device nodes (NVIDIA, DRM render nodes) that a hardware Vulkan driver would use. */
function gpuDevices(): string[] {
  const nvidia = existsSync("/dev/nvidia0") ? ["/dev/nvidia0"] : [];
  const dri = existsSync("/dev/dri")
    ? readdirSync("/dev/dri")
        .filter((f) => f.startsWith("renderD"))
        .map((f) => `/dev/dri/${f}`)
    : [];
  return [...nvidia, ...dri];
}

let chosen: WebGpuDriver | null = null;

/** Chooses the driver once per process (setting VK_ICD_FILENAMES for SwiftShader) and says which. */
export function chooseWebGpuDriver(env: NodeJS.ProcessEnv = process.env): WebGpuDriver {
  if (chosen) return chosen;
  if (env.VK_ICD_FILENAMES) {
    const soft = /swiftshader/i.test(env.VK_ICD_FILENAMES) ? "SwiftShader, a software GPU on the CPU: " : "";
    chosen = { kind: "preset", description: `${soft}Vulkan driver from VK_ICD_FILENAMES=${env.VK_ICD_FILENAMES}` };
    return chosen;
  }
  const devices = gpuDevices();
  if (devices.length) {
    if (devices.includes("/dev/nvidia0") && existsSync(NVIDIA_CONTAINER_ICD)) {
      env.VK_ICD_FILENAMES = NVIDIA_CONTAINER_ICD;
      chosen = {
        kind: "gpu",
        description: `NVIDIA's Vulkan driver as the container mounts it (${NVIDIA_CONTAINER_ICD})`,
      };
      return chosen;
    }
    chosen = { kind: "gpu", description: `the system's Vulkan driver for ${devices.join(", ")}` };
    return chosen;
  }
  const icd = SWIFTSHADER_ICDS.find((f) => existsSync(f));
  if (!icd)
    throw new NoWebGpuDriverError(
      "WebGPU needs a GPU (none found: no /dev/nvidia0 or /dev/dri/renderD*) or SwiftShader, a software Vulkan " +
        `driver shipped by Chromium (none of ${SWIFTSHADER_ICDS.join(", ")}): install Debian's chromium package for ` +
        "correctness checks on the CPU, or use --ep cpu",
    );
  env.VK_ICD_FILENAMES = icd;
  env.XDG_RUNTIME_DIR ??= tmpdir();
  chosen = {
    kind: "swiftshader",
    description: `SwiftShader (Vulkan on the CPU, ${icd}): no GPU device found; a software GPU, slow, for correctness checks`,
  };
  return chosen;
}
