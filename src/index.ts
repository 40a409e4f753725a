// The public API that notebooks and scripts import: `import * as dm from "../src"`.
export { initBackend, backendInfo, availableBackends, matMul, matMulNT, matMulTN, tf } from "./backend";
export type { BackendInfo, BackendName } from "./backend";
export { InputError } from "./errors";
export { terminalProgress, silentProgress } from "./progress";
export type { Progress } from "./progress";
