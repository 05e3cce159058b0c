// Published distilled-set records with a ConvNet student (top-1 %, by IPC), the anchors the
// results tables and plots put next to ours. A results script chooses the set with --records;
// nothing in the pipeline reads these. Where a figure is "as commonly cited", check the paper
// before quoting it elsewhere.
export interface PublishedRecord {
  name: string;
  cite: string;
  acc: Record<number, number>;
}

export const PUBLISHED_RECORDS: Record<string, { records: PublishedRecord[]; note: string }> = {
  mnist: {
    records: [
      { name: "DC", cite: "Zhao et al., ICLR 2021", acc: { 1: 91.7, 10: 97.4, 50: 98.8 } },
      { name: "DSA", cite: "Zhao & Bilen, ICML 2021", acc: { 1: 88.7, 10: 97.8, 50: 99.2 } },
      { name: "KIP", cite: "Nguyen et al., NeurIPS 2021 (ConvNet)", acc: { 1: 90.1, 10: 97.5, 50: 98.4 } },
      { name: "IDC", cite: "Kim et al., ICML 2022", acc: { 1: 94.2, 10: 98.4, 50: 99.1 } },
      { name: "FRePo", cite: "Zhou et al., NeurIPS 2022", acc: { 1: 93.0, 10: 98.6, 50: 99.2 } },
      { name: "RFAD", cite: "Loo et al., NeurIPS 2022", acc: { 1: 94.4, 10: 98.5, 50: 98.8 } },
    ],
    note: "DC, DSA, KIP and IDC as in their tables, FRePo and RFAD as commonly cited",
  },
  "fashion-mnist": {
    records: [
      { name: "DC", cite: "Zhao et al., ICLR 2021", acc: { 1: 70.5, 10: 82.3, 50: 83.6 } },
      { name: "DSA", cite: "Zhao & Bilen, ICML 2021", acc: { 1: 70.6, 10: 84.6, 50: 88.7 } },
      { name: "KIP", cite: "Nguyen et al., NeurIPS 2021 (ConvNet)", acc: { 1: 73.5, 10: 86.8, 50: 88.0 } },
      { name: "FRePo", cite: "Zhou et al., NeurIPS 2022", acc: { 1: 75.6, 10: 86.2, 50: 89.6 } },
      { name: "RFAD", cite: "Loo et al., NeurIPS 2022", acc: { 1: 78.6, 10: 87.0, 50: 88.8 } },
    ],
    note: "DC and DSA as in the DSA paper's table, KIP, FRePo and RFAD as commonly cited",
  },
  none: { records: [], note: "" },
};
