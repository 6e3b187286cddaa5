// Package ids holds the rules of dRPC module and method IDs, once, for
// every part of the repository that checks them: the transport (when a
// server registers a module), the catalog of generated methods, the code
// generator protoc-gen-go-drpc and the buf check plugin buf-plugin-drpc.
//
// The rules:
//
//   - a module ID lies in 0..MaxModuleID;
//   - module N owns the method IDs N*100+1 .. N*100+99
//     (ModuleMethodOffset is 100), see MethodRange and Owns;
//   - a module ID belongs to one module, and a method ID to one method
//     across all modules;
//   - a module may reserve method IDs of its own range, the IDs of removed
//     methods; no method may use a reserved ID.
//
// The first two are plain functions. The others need to see every module
// and method at once: add them to a Set, which refuses what breaks a rule
// with an *Error that wraps one of the sentinels ErrInvalidModuleID,
// ErrDuplicateModuleID, ErrMethodOutOfRange, ErrDuplicateMethodID and
// ErrReservedMethodID (test with errors.Is).
//
// The package works on int32, the type of the IDs on the wire, and imports
// nothing of the transport: the transport's ModuleID and MethodID convert
// to int32, and the transport itself builds on this package.
package ids
