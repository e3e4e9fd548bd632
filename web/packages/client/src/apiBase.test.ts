import { describe, expect, it } from 'vitest';
import { apiBaseUrl } from './apiBase.js';

function page(meta: string): Document {
  return new DOMParser().parseFromString(`<html><head>${meta}</head><body></body></html>`, 'text/html');
}

describe('apiBaseUrl', () => {
  it('is the origin when the page names no API path (grace serve)', () => {
    expect(apiBaseUrl(page(''), 'https://chat.example')).toBe('https://chat.example');
    expect(apiBaseUrl(page('<meta name="grace-api" content="" />'), 'https://chat.example')).toBe('https://chat.example');
  });

  it('adds the prefix Grace is mounted at', () => {
    const doc = page('<meta name="grace-api" content="/grace" />');
    expect(apiBaseUrl(doc, 'https://host.example')).toBe('https://host.example/grace');
  });
});
