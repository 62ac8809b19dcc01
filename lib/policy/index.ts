/**
 * The driver policy and other pure decisions: interface plans, driver
 * (vhost or userspace) decisions, guest and host MACs, pool choice. No
 * syscalls, no files: inputs in, a decision out.
 *
 * @module
 */
// Pure decisions (no syscalls, no files): see ARCHITECTURE.md.
export * from './interface';
export * from './mac';
export * from './pool';
