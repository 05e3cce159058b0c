// The scripts' list flags (--ipc, --seeds, --steps): every list of distinct whole numbers ≥ min
// round-trips; anything else is refused with commander's error naming the flag and the bad item.
import fc from "fast-check";
import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { intList } from "../../scripts/int-list.ts";

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
});
