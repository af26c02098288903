import type { Detector, DetectionInput, DetectorOutput } from './types';

/** Neighbours averaged for the score: a single close outlier pattern should not vouch for a window. */
const K = 5;
/** Patterns a series needs before its nearest-neighbour distances mean anything. */
const MIN_PATTERNS = 10;
/** Incident patterns looked up for "seen before". */
const K_INCIDENTS = 3;

/**
 * Distance of the window's embedding to its k nearest normal patterns of the same series in the vector
 * store (mean of the k distances). Also looks up confirmed incident patterns, so an anomaly that looks
 * like a past incident says so.
 */
export const knnDetector: Detector = {
  name: 'knn',
  floor: 0.5,
  appliesTo: () => true,
  async detect({ state, vector, store }: DetectionInput): Promise<DetectorOutput | null> {
    // Asking for MIN_PATTERNS neighbours answers "are there enough patterns?" without a count query.
    const found = await store.searchPatterns(state.key, vector, MIN_PATTERNS, 'normal');
    if (found.length < MIN_PATTERNS) return null;
    const neighbours = found.slice(0, K);
    let sum = 0;
    for (const n of neighbours) sum += n.distance;
    const incidents = await store.searchPatterns(state.key, vector, K_INCIDENTS, 'incident');
    return { raw: sum / neighbours.length, neighbours, similarIncidents: incidents };
  },
};
