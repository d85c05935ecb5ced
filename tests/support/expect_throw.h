// Error-test helpers: the statement must throw Err, and the message must contain `text`
// (EXPECT_THROW_MSG) or start with "op: " (EXPECT_THROW_OP, the library's message format).
#pragma once
#include <gtest/gtest.h>

#include <string>

#define EXPECT_THROW_MSG(stmt, Err, text)                                         \
  do {                                                                            \
    try {                                                                         \
      stmt;                                                                       \
      ADD_FAILURE() << "expected " #Err " from " #stmt;                           \
    } catch (const Err& e) {                                                      \
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what(); \
    }                                                                             \
  } while (0)

#define EXPECT_THROW_OP(stmt, Err, op)                                                   \
  do {                                                                                   \
    EXPECT_THROW(stmt, Err);                                                             \
    try {                                                                                \
      stmt;                                                                              \
    } catch (const std::exception& e) {                                                  \
      EXPECT_EQ(std::string(e.what()).rfind(std::string(op) + ": ", 0), 0u) << e.what(); \
    }                                                                                    \
  } while (0)
