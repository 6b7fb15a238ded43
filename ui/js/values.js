// Shape checks for JSON the page did not write (config.json, API answers, token claims).

export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The strings of an array; anything else is an empty list. */
export const strings = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

export const unique = (list) => [...new Set(list)];
