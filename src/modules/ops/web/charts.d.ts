// charts.js is browser code served as text (routes.ts imports it `with { type: "text" }`).
declare const text: string;
export default text;
