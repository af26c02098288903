// Test environment shims for what jsdom lacks and Grafana's UI libraries touch at import or render.
import '@testing-library/jest-dom/jest-globals';

import { TextDecoder, TextEncoder } from 'node:util';

Object.assign(globalThis, { TextEncoder, TextDecoder });

if (!window.matchMedia) {
  Object.defineProperty(window, 'matchMedia', {
    writable: true,
    value: (query: string) => ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => undefined,
      removeListener: () => undefined,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false,
    }),
  });
}

if (!('ResizeObserver' in window)) {
  class ResizeObserverShim {
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  }
  Object.assign(window, { ResizeObserver: ResizeObserverShim });
}

if (!('IntersectionObserver' in window)) {
  class IntersectionObserverShim {
    readonly root = null;
    readonly rootMargin = '';
    readonly thresholds = [];
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
    takeRecords(): [] {
      return [];
    }
  }
  Object.assign(window, { IntersectionObserver: IntersectionObserverShim });
}

// i18next (inside @grafana/ui) advertises itself on init; that line is noise in every suite.
const info = console.info.bind(console);
console.info = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].includes('i18next is made possible')) {
    return;
  }
  info(...args);
};
