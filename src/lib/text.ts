// Characters that show nothing or rearrange what is around them, so that a second name can look
// exactly like the first: controls (Cc); format characters (Cf: zero-width space and joiners, the
// bidi marks, embeddings, overrides and isolates, the BOM, the soft hyphen, tag characters); line
// and paragraph separators; and the blank "letters" spoofers use (combining grapheme joiner,
// Hangul fillers, Khmer inherent vowels, braille blank).
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115F\u2800\u3164\uFFA0]|\u034F|\u1160|\u17B4|\u17B5/u;

// The visible uses of those: a zero-width joiner between two pictographs draws one emoji (👩‍💻),
// and tag characters after a black flag draw a subdivision flag (🏴 + "gbeng" + cancel tag).
const VISIBLE_SEQUENCES = /(?<=\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?)\u200D(?=\p{Extended_Pictographic})|(?<=\u{1F3F4})[\u{E0020}-\u{E007E}]+\u{E007F}/gu;

export const HIDDEN_TEXT_MESSAGE = 'must not contain control, zero-width or bidirectional formatting characters';

/** False when the text holds a character that renders as nothing or reorders the text (see HIDDEN). */
export const isVisibleText = (text: string) => !HIDDEN.test(text.replace(VISIBLE_SEQUENCES, ''));

/**
 * A name as people compare it: NFKC (full-width letters, ligatures, non-breaking spaces become
 * their plain forms) and case-folded. Upper- then lower-casing folds like Unicode's full case
 * folding where a lower-casing alone would not: "ß" and "SS", "ς" and "Σ" get one key.
 */
export const nameKeyOf = (name: string) => name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
