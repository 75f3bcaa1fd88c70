/**
 * The consistency checker's public surface: record a history of client
 * operations against a ringkv cluster (`HistoryRecorder`), save and load it
 * (`historyToJson`, `historyFromJson`), and check it against the final state
 * after heal (`checkHistory`, `formatViolation`). See `checker.ts` for the
 * properties checked.
 */
export {
  HistoryRecorder,
  historyFromJson,
  historyToJson,
  validateFinalState,
  validateHistory,
  type CompleteFields,
  type FinalState,
  type HistoryOp,
  type InvokeFields,
  type OpKind,
  type Outcome,
} from './history.js';
export { checkHistory, formatViolation, type Property, type Violation } from './checker.js';
