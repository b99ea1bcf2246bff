let counter = 0;

/** A name unique to this test run, so tests never share a sale or a buyer. */
export const unique = (prefix: string) =>
  `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
