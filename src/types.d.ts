declare module "*.sql" {
  const text: string;
  export default text;
}

// Static assets imported `with { type: "file" }`: the import is a path (embedded in the binary).
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const path: string;
  export default path;
}
declare module "swagger-ui-dist/swagger-ui.css" {
  const path: string;
  export default path;
}
