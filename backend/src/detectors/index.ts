import { driftDetector } from './drift';
import { ewmaDetector } from './ewma';
import { knnDetector } from './knn';
import { levelDetector } from './level';
import { llmRulesDetector } from './llm-rules';
import { rangeDetector } from './range';
import { robustZDetector } from './robust-z';
import { seasonalDetector } from './seasonal';
import { stuckDetector } from './stuck';
import type { Detector } from './types';

/** The detector registry: one line per detector. Order is the order of evaluation and of ties. */
export const DEFAULT_DETECTORS: readonly Detector[] = [robustZDetector, ewmaDetector, seasonalDetector, knnDetector, llmRulesDetector, driftDetector, rangeDetector, stuckDetector, levelDetector];

export type { Detector, DetectionInput, DetectorOutput, FeatureBaseline } from './types';
