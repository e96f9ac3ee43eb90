// The chat page's stylesheet, imported `with { type: "text" }` and embedded in the binary.
declare module "*/web/chat.css" {
  const text: string;
  export default text;
}
