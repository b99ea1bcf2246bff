// V8's Error.stackTraceLimit, present on Node and workerd alike; @types/node declares it, the
// Workers types do not, so the core typecheck (tsconfig.core.json) needs it stated.
interface ErrorConstructor {
  stackTraceLimit: number;
}
