// The ops page's stylesheet, imported `with { type: "text" }` and embedded in the binary.
declare module "*/web/ops.css" {
  const text: string;
  export default text;
}
