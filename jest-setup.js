// Jest setup provided by Grafana scaffolding
import './.config/jest-setup';
import { configure } from '@testing-library/react';

// findBy*/waitFor: wait up to 5 s (default 1 s) so a loaded CI machine does not fail a test.
configure({ asyncUtilTimeout: 5000 });

// jsdom has no IntersectionObserver; @grafana/ui's select menus (ScrollIndicators) use it.
class IntersectionObserverStub {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() {
    return [];
  }
}
Object.defineProperty(global, 'IntersectionObserver', { writable: true, value: IntersectionObserverStub });
