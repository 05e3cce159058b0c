// The numeric flags of every command and results script (--ipc 1,10,50, --seeds, --steps, --crops):
// every valid value round-trips; anything else is refused with commander's error naming the flag.
import fc from "fast-check";
import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { atLeast, fraction, int, intList } from "../../gpu-cluster/cli/number-args.ts";

describe("intList", () => {
  it("parses any list of distinct whole numbers at or above the minimum", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 8 }), (xs) => {
        expect(intList("--ipc", 1)(xs.join(","))).toEqual(xs);
        expect(intList("--ipc", 1)(xs.join(", "))).toEqual(xs);
      }),
    );
  });

  it("refuses below the minimum, non-integers, empty items and repeats", () => {
    const cases: [string, number, RegExp][] = [
      ["0", 1, /--ipc takes comma-separated whole numbers ≥ 1, got '0' in '0'/],
      ["1,2.5", 1, /got '2\.5' in '1,2\.5'/],
      ["1,,2", 0, /got '' in '1,,2'/],
      ["abc", 0, /got 'abc'/],
      ["-1", 0, /≥ 0, got '-1'/],
      ["10,1,10", 1, /--ipc lists 10 twice/],
    ];
    for (const [s, min, message] of cases) {
      expect(() => intList("--ipc", min)(s), s).toThrow(InvalidArgumentError);
      expect(() => intList("--ipc", min)(s), s).toThrow(message);
    }
  });

  it("int parses whole numbers at or above the minimum and refuses the rest, the empty string included", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: -1000, max: 1000 }), (min, n) => {
        if (n >= min) expect(int("--steps", min)(String(n))).toBe(n);
        else expect(() => int("--steps", min)(String(n))).toThrow(`--steps must be an integer ≥ ${min}, got '${n}'`);
      }),
    );
    for (const s of ["", " ", "1.5", "x", "NaN"]) expect(() => int("--steps", 0)(s), s).toThrow(InvalidArgumentError);
  });
});

describe("atLeast", () => {
  it("atLeast parses finite numbers at or above the minimum and refuses the rest, the empty string included", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        (min, y) => {
          const x = y + 0; // -0 prints as 0
          if (x >= min) expect(atLeast("--student-lr-stretch", min)(String(x))).toBe(x);
          else
            expect(() => atLeast("--student-lr-stretch", min)(String(x))).toThrow(
              `--student-lr-stretch must be a number ≥ ${min}, got '${x}'`,
            );
        },
      ),
    );
    for (const s of ["", " ", "x", "NaN", "Infinity"])
      expect(() => atLeast("--z", 1)(s), s).toThrow(InvalidArgumentError);
  });
});

describe("fraction", () => {
  it("parses shares in [0, 1) (or [0, 1] where up to one) and refuses the rest, the empty string included", () => {
    fc.assert(
      fc.property(fc.double({ min: -2, max: 2, noNaN: true }), fc.boolean(), (y, upToOne) => {
        const x = y + 0; // -0 prints as 0
        const parse = fraction("--student-hard-phase", upToOne);
        if (x >= 0 && (upToOne ? x <= 1 : x < 1)) expect(parse(String(x))).toBe(x);
        else
          expect(() => parse(String(x))).toThrow(
            `--student-hard-phase must be a number in [0, 1${upToOne ? "]" : ")"}, got '${x}'`,
          );
      }),
    );
    expect(fraction("--f")("0")).toBe(0);
    expect(() => fraction("--f")("1")).toThrow(InvalidArgumentError);
    expect(fraction("--f", true)("1")).toBe(1);
    for (const s of ["", " ", "x", "NaN", "Infinity"])
      expect(() => fraction("--f", true)(s), s).toThrow(InvalidArgumentError);
  });
});
