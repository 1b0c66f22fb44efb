//===- TTTDialect.h - the ttt dialect ---------------------------*- C++ -*-===//
#ifndef TTTC_DIALECT_TTTDIALECT_H
#define TTTC_DIALECT_TTTDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/TTTDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/TTTTypes.h.inc"

#endif
