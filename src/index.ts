// The public API that notebooks and scripts import: `import * as dm from "./src/index"` (run from the project root, as the kernel does).
export { initBackend, backendInfo, availableBackends, matMul, matMulNT, matMulTN, tf } from "./backend/index";
export type { BackendInfo, BackendName } from "./backend/index";
export { InputError } from "./errors";
export { terminalProgress, silentProgress } from "./progress";
export type { Progress } from "./progress";
export * as viz from "./viz/index";
export * as io from "./io/index";
export * as sae from "./sae/index";
export * as lm from "./lm/index";
export * as activations from "./activations/index";
export * as linalg from "./linalg/index";
export * as darkmatter from "./darkmatter/index";
export * as train from "./train/index";
export * as publish from "./publish/index";
export * as family from "./family/index";
export * as pipeline from "./pipeline/index";
export * as explore from "./explore/index";
