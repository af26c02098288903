import { describe, expect, it } from '@jest/globals';
import { render, screen } from '@testing-library/react';
import React from 'react';

import { SafeMarkdown } from './SafeMarkdown';

describe('SafeMarkdown', () => {
  it('renders markdown as elements', () => {
    const { container } = render(<SafeMarkdown source={'### What moved\n- **latency_p95_ms** rose\n\nSee [runbook](https://runbooks.example/latency).'} />);
    expect(screen.getByRole('heading', { name: 'What moved' })).toBeInTheDocument();
    expect(container.querySelector('li strong')).toHaveTextContent('latency_p95_ms');
    const link = screen.getByRole('link', { name: 'runbook' });
    expect(link).toHaveAttribute('href', 'https://runbooks.example/latency');
    expect(link).toHaveAttribute('rel', 'noopener noreferrer nofollow');
  });

  it('shows <script> and <img onerror> from an explanation as text, never as HTML', () => {
    const hostile =
      'Cause: <script>window.__pwned = true</script>\n\n<img src=x onerror="window.__pwned = true">\n\n- <b>bold?</b> [x](javascript:window.__pwned=true)';
    const { container } = render(<SafeMarkdown source={hostile} />);
    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('b')).toBeNull();
    expect(container.querySelector('a')).toBeNull();
    expect(container.querySelector('[onerror]')).toBeNull();
    expect(container).toHaveTextContent('Cause: <script>window.__pwned = true</script>');
    expect(container).toHaveTextContent('<img src=x onerror="window.__pwned = true">');
    expect((window as unknown as { __pwned?: boolean }).__pwned).toBeUndefined();
  });
});
