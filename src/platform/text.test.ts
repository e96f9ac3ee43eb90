import { describe, expect, test } from "bun:test";
import { checkDisplayName, graphemeLength, textKey } from "./text";

const rules = { minChars: 2, maxChars: 30 };
const refusal = (raw: string) => {
  const r = checkDisplayName(raw, rules);
  return r.ok ? null : r.reason;
};

describe("textKey", () => {
  test("NFC and NFD forms compare equal; case does not matter in any script", () => {
    expect(textKey("Caf\u0065\u0301")).toBe(textKey("CAF\u00c9"));
    expect(textKey("Ada")).toBe("ada");
    expect(textKey("ΣΊΣΥΦΟΣ")).toBe(textKey("σίσυφος"));
    expect(textKey("ÅNGSTRÖM")).toBe(textKey("a\u030angstro\u0308m"));
    expect(textKey("김철수")).toBe("김철수");
  });

  test("lower-casing, not full case folding: final sigma and ß keep their own keys (documented)", () => {
    expect(textKey("ΟΔΟΣ")).toBe("οδος");
    expect(textKey("STRASSE")).not.toBe(textKey("straße"));
  });

  test("locale-independent: 'I' folds to 'i', never to the Turkish dotless 'ı'", () => {
    expect(textKey("I")).toBe("i");
    expect(textKey("İ")).toBe("i\u0307");
  });
});

describe("checkDisplayName", () => {
  test("letters and digits of any script, with '_', '.', '-'", () => {
    for (const name of ["김철수", "ada", "Ада_Лавлейс", "李小龍", "ابن.سينا", "क्षत्रिय", "user-42", "١٢٣", "Zoë"]) {
      expect(checkDisplayName(name, rules)).toEqual({ ok: true, name });
    }
  });

  test("stored trimmed and in NFC", () => {
    expect(checkDisplayName("  Zoe\u0308 ", rules)).toEqual({ ok: true, name: "Zo\u00eb" });
  });

  test("length in user-perceived characters", () => {
    expect(graphemeLength("김철수")).toBe(3);
    expect(graphemeLength("e\u0301")).toBe(1);
    expect(checkDisplayName("김", rules).ok).toBe(false);
    expect(checkDisplayName("김".repeat(30), rules).ok).toBe(true);
    expect(refusal("김".repeat(31))).toContain("2–30 characters (this has 31)");
    // 30 characters of three code points each: counted as 30.
    expect(checkDisplayName("e\u0301\u0302".repeat(30), rules).ok).toBe(true);
  });

  test("no control, format or invisible characters", () => {
    for (const bad of ["ad\u200ba", "ad\u200da", "ad\ufeffa", "ada\u202e", "ad\u0000a", "ad\u0007a", "ㅤㅤ", "ad\u3164a", "a\u115fb", "ad\uffa0a", "ad\u034fa", "a\ufe0fb"]) {
      expect(refusal(bad)).toBe("must not contain control, format or invisible characters");
    }
  });

  test("no whitespace inside, no symbols, no mark without a base, no mark stacking", () => {
    for (const spaced of ["ada lovelace", "ada\tx", "ada\u3000x", "ada\u00a0x"]) expect(refusal(spaced)).toBe("must not contain spaces");
    expect(checkDisplayName(`ab${"\u0334".repeat(4)}`, rules).ok).toBe(true);
    for (const bad of ["ada!", "a@b", "😀😀", "\u0301ab", `ab${"\u0334".repeat(5)}`]) {
      expect(refusal(bad)).toContain("may contain only letters and digits");
    }
    expect(refusal("   ")).toContain("2–30 characters");
  });
});
