// Schemas for the shop routes: the single source for validation, types and OpenAPI, one file
// per sub-feature.
export * from "./common";
export * from "./catalog";
export * from "./reviews";
export * from "./carts";
export * from "./orders";
export * from "./subscriptions";
