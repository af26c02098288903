/** Options of the timeline panel (panel editor). */
export interface SentinelPanelOptions {
  /**
   * Draw the anomaly score track under the feature track.
   * @default true
   */
  showScore: boolean;
  /**
   * Shade the expected band (lower..upper) and draw the expected line.
   * @default true
   */
  showBand: boolean;
  /**
   * Show the side pane with the selected anomaly's explanation, evidence and feedback buttons.
   * @default true
   */
  showExplanation: boolean;
  /**
   * Width of the side pane in percent of the panel width (the pane moves below the timeline in
   * narrow panels).
   * @default 38
   */
  paneWidthPercent: number;
  /**
   * Score above which a window counts as anomalous; drawn as a dashed line (the API calibrates
   * scores so that 1 is the boundary).
   * @default 1
   */
  scoreThreshold: number;
}

/** Defaults of {@link SentinelPanelOptions}. */
export const DEFAULT_PANEL_OPTIONS: SentinelPanelOptions = {
  showScore: true,
  showBand: true,
  showExplanation: true,
  paneWidthPercent: 38,
  scoreThreshold: 1,
};
