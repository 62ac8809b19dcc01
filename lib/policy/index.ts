// Pure decisions (no syscalls, no files): see ARCHITECTURE.md.
export * from './interface';
export * from './mac';
export * from './pool';
