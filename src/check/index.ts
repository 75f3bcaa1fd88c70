/**
 * The consistency checker's public surface: record a history of client
 * operations against a ringkv cluster (`HistoryRecorder`), save and load it
 * (`historyToJson`, `historyFromJson`), and check it against the final state
 * after heal (`checkHistory`, `checkHistoryReport` with the writes lost
 * within a periodic sync window listed apart, `formatViolation`). See `checker.ts` for the
 * properties checked.
 */
export {
  HistoryRecorder,
  historyFromJson,
  historyToJson,
  validateFinalState,
  validateHistory,
  type CompleteFields,
  type CrashRecord,
  type FinalState,
  type HistoryOp,
  type InvokeFields,
  type OpKind,
  type Outcome,
} from './history.js';
export {
  checkHistory,
  checkHistoryReport,
  formatViolation,
  type CheckReport,
  type LostInSyncWindow,
  type Property,
  type Violation,
} from './checker.js';
