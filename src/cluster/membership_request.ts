/**
 * A membership change as users ask for it (node ids, `MembershipChange`)
 * and as the driver runs it (member ids, `RingChange`), and back: the one
 * translation the embedded cluster and the simulator share (issue 16).
 *
 * Pure. Safe from any thread.
 */
import type { RingChange } from '../core/ring_change.js';
import { memberId } from '../../actors/member_refs.js';
import { labelOf, memberOf, type ResolvedCluster, type ResolvedNode } from './cluster_config.js';
import type { MembershipChange, NodeSpec } from './cluster_types.js';
import type { ChangeState } from './membership_change.js';

/** The node a join or replacement adds, on `thread`, with the defaults a node spec leaves out. */
export function addedNode(cluster: ResolvedCluster, spec: NodeSpec, thread: number): ResolvedNode {
  return { label: spec.id, member: memberId(thread), thread, dc: spec.dc ?? cluster.nodes[0]!.dc, rack: spec.rack ?? spec.id, weight: spec.weight ?? 1 };
}

/** `change` in member ids on `cluster`; `added` is the node it adds (join, replace). Unknown node ids throw `InvalidRequestError`. */
export function ringChangeOf(cluster: ResolvedCluster, change: MembershipChange, added: ResolvedNode | null): RingChange {
  switch (change.kind) {
    case 'join':
      return { kind: 'join', member: { id: added!.member, dc: added!.dc, rack: added!.rack, weight: added!.weight } };
    case 'decommission':
    case 'remove':
      return { kind: change.kind, id: memberOf(cluster, change.node).member };
    case 'replace':
      return { kind: 'replace', dead: memberOf(cluster, change.dead).member, member: { id: added!.member, dc: added!.dc, rack: added!.rack } };
  }
}

/** The change `state` runs, by node ids again (`cluster`: the members it names). */
export function userChangeOf(cluster: ResolvedCluster, state: ChangeState): MembershipChange {
  const spec = (node: ResolvedNode): NodeSpec => ({ id: node.label, dc: node.dc, rack: node.rack, weight: node.weight });
  const label = (member: string): string => labelOf(cluster, member);
  const c = state.change;
  switch (c.kind) {
    case 'join':
      return { kind: 'join', node: spec(state.added!) };
    case 'decommission':
    case 'remove':
      return { kind: c.kind, node: label(c.id) };
    case 'replace':
      return { kind: 'replace', dead: label(c.dead), node: spec(state.added!) };
  }
}
