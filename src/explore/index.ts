// Exploring an SAE by hand: latent pages (top contexts, bands, density, histogram, promoted tokens) over a store,
// cached per (SAE, store). Display them with dm.viz.showLatent / dm.viz.showLatentsOn.
export { latentPages, computeLatentStats, LatentPages } from "./latents";
export type { LatentStats, LatentCard, LatentOnToken, LatentPageOptions, ContextWindow, ContextToken } from "./latents";
