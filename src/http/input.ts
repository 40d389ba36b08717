// Rules every free-text request parameter shares. A control character (NUL, newline, escape, DEL,
// the C1 range) is never meaningful in a name search or a code, and some reach the database as an
// error (PostgreSQL refuses NUL in text): they are refused by the JSON schema, before any handler,
// with a 400 that names the parameter (see schemaErrorFormatter).

/** JSON-schema `pattern` (Ajv compiles patterns with the `u` flag): no Unicode control character. */
export const NO_CONTROL_CHARACTERS = '^[^\\p{Cc}]*$'

/** The longest `q` accepted, in characters (Unicode code points). */
export const MAX_SEARCH_LENGTH = 100
