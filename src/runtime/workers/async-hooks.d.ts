// workerd implements node:async_hooks' AsyncLocalStorage (compatibility flag nodejs_als); the
// Workers types do not declare it, and this runtime does not take Node's types.
declare module 'node:async_hooks' {
  export class AsyncLocalStorage<T> {
    getStore(): T | undefined;
    run<R>(store: T, fn: () => R): R;
  }
}
