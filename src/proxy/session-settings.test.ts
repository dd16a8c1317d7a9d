import { describe, expect, it } from 'vitest';
import { SessionSettings } from './session-settings.js';

describe('SessionSettings while a change is pending', () => {
  it('a statement that resolves keys is misread; one that writes nothing only when its text could read differently', () => {
    const s = new SessionSettings();
    expect(s.misreads("insert into t values (1, 'a')")).toBe(false);
    s.changing();
    expect(s.misreads("insert into t values (1, 'a')")).toBe(true);
    expect(s.misreads('select 2', false)).toBe(false);
    // A backslash reads differently with standard_conforming_strings off; a non-ASCII byte under
    // another client encoding.
    expect(s.misreads("select 'a\\' || 'b'", false)).toBe(true);
    expect(s.misreads("select 'é'", false)).toBe(true);
    s.settled();
    expect(s.misreads("select 'a\\' || 'b'", false)).toBe(false);
    s.reported('standard_conforming_strings', 'off');
    expect(s.misreads("select 'a\\' || 'b'", false)).toBe(true);
    expect(s.misreads('select 2', false)).toBe(false);
  });
});
