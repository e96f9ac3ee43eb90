// Text that people type and compare: the one helper behind every case-insensitive key
// (DESIGN.md: "Text keys compare after NFC + case folding, one helper"), and the check of
// display names (nicknames) in any script.
//
// Keys are NFC + String.prototype.toLowerCase, which is locale-independent (the Unicode default
// case mapping; toLocaleLowerCase would fold "I" to "ı" on a Turkish host). It is lower-casing,
// not full case folding: "ß" and "ss" stay different keys, as do final and medial sigma.

const graphemes = new Intl.Segmenter("und", { granularity: "grapheme" });

/** How text compares: NFC, then lower-cased locale-independently (NFC again: lower-casing can denormalise). */
export function textKey(text: string): string {
  return text.normalize("NFC").toLowerCase().normalize("NFC");
}

/** User-perceived characters (extended grapheme clusters): "김철수" is 3, "é" is 1 in NFC or NFD. */
export function graphemeLength(text: string): number {
  let n = 0;
  for (const _ of graphemes.segment(text)) n++;
  return n;
}

export interface DisplayNameRules {
  minChars: number;
  maxChars: number;
}

export type DisplayNameCheck = { ok: true; name: string } | { ok: false; reason: string };

// Letters and digits of any script, each base followed by at most four combining marks (Indic
// clusters need two or three; more is "Zalgo" stacking), plus the ASCII '_', '.', '-'.
const displayNameShape = /^(?:[\p{L}\p{N}_.-]\p{M}{0,4})+$/u;
// Invisible yet classed as letters or marks: the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0),
// the combining grapheme joiner, variation selectors. Controls and format characters (zero-width
// space and joiners, BOM, bidi overrides) are not in the shape at all; named here for the message.
const invisible = /[\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}]/u;

/**
 * A display name as stored: trimmed (JavaScript whitespace, BOM included), NFC. Refused (with a reason for the client): whitespace,
 * control, format or otherwise invisible characters, symbols and punctuation other than
 * '_', '.', '-', a combining mark without a base, and lengths outside the rules, counted in
 * user-perceived characters (graphemes).
 */
export function checkDisplayName(raw: string, rules: DisplayNameRules): DisplayNameCheck {
  const name = raw.trim().normalize("NFC");
  const length = graphemeLength(name);
  if (length < rules.minChars || length > rules.maxChars) {
    return { ok: false, reason: `must be ${rules.minChars}–${rules.maxChars} characters (this has ${length})` };
  }
  if (/\p{White_Space}/u.test(name)) return { ok: false, reason: "must not contain spaces" };
  if (invisible.test(name)) return { ok: false, reason: "must not contain control, format or invisible characters" };
  if (!displayNameShape.test(name)) {
    return { ok: false, reason: "may contain only letters and digits of any script and '_', '.', '-' (no spaces or symbols)" };
  }
  return { ok: true, name };
}
