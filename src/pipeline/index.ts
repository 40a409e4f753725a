export { openContext, contextRows } from "./context";
export type { AnalysisContext, NotebookParameters } from "./context";
export { listSaes } from "./saes";
export { decomposeFamily, saeOutputs } from "./decompose-family";
export type { SaeDecomposition } from "./decompose-family";
export type { SaeEntry, SaeListing } from "./saes";
export { familyPoints, familyRows, contourPanels, predictabilityClaims, widthScaling, widthScalingClaims } from "./family-results";
export type { WidthScaling } from "./family-results";
