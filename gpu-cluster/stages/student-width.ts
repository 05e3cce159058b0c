// How wide a student is when none is asked for: shared by evaluate, `distill train` and the
// browser trainer (no imports: the page bundles it).

/** The student width when none is asked for (ConvNet width, ResNet base planes). */
export const DEFAULT_STUDENT_WIDTH = 32;

/**
 * Default student width: as wide as a teacher of its own family (convnet-D and convnet-in-D, resnetN, ...), so that
 * a teacher squeeze widened for data it underfits (teacher-width.ts) gets a student that can follow
 * its labels; DEFAULT_STUDENT_WIDTH beside any other teacher (docs/ablations.md).
 */
export function defaultStudentWidth(studentArch: string, teacher?: { arch: string; width?: number }): number {
  // convnet-in-D is convnet-D with another norm: one family
  const family = (arch: string) => arch.replace(/[-\d]+$/, "").replace(/-in$/, "");
  return teacher?.width !== undefined && family(teacher.arch) === family(studentArch)
    ? teacher.width
    : DEFAULT_STUDENT_WIDTH;
}
