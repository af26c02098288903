import type { PanelOptionsEditorBuilder } from '@grafana/data';

import { DEFAULT_PANEL_OPTIONS, type SentinelPanelOptions } from './types';

/** Panel editor options (see {@link SentinelPanelOptions} for what each does). */
export function buildPanelOptions(builder: PanelOptionsEditorBuilder<SentinelPanelOptions>): PanelOptionsEditorBuilder<SentinelPanelOptions> {
  return builder
    .addBooleanSwitch({
      path: 'showScore',
      name: 'Anomaly score',
      description: 'Draw the anomaly score under the feature',
      defaultValue: DEFAULT_PANEL_OPTIONS.showScore,
    })
    .addBooleanSwitch({
      path: 'showBand',
      name: 'Expected band',
      description: 'Shade the expected band and draw the expected value',
      defaultValue: DEFAULT_PANEL_OPTIONS.showBand,
    })
    .addNumberInput({
      path: 'scoreThreshold',
      name: 'Score threshold',
      description: 'Scores above this are anomalous (the API calibrates 1 as the boundary)',
      defaultValue: DEFAULT_PANEL_OPTIONS.scoreThreshold,
      settings: { min: 0, step: 0.1 },
    })
    .addBooleanSwitch({
      path: 'showExplanation',
      name: 'Explanation pane',
      description: 'Explanation, evidence and feedback buttons for the selected anomaly',
      defaultValue: DEFAULT_PANEL_OPTIONS.showExplanation,
    })
    .addSliderInput({
      path: 'paneWidthPercent',
      name: 'Pane width (%)',
      defaultValue: DEFAULT_PANEL_OPTIONS.paneWidthPercent,
      settings: { min: 20, max: 60, step: 1 },
      showIf: (o) => o.showExplanation,
    });
}
