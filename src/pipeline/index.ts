export { openContext, setDefaultSetup } from "./context";
export type { AnalysisContext, NotebookParameters, DefaultSetup } from "./context";
export { listSaes } from "./saes";
export type { SaeEntry, SaeListing } from "./saes";
