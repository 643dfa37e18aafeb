// Status and Result<T>: how every encore call reports failure.
//
// A Status is a code plus one line saying where and what went wrong, e.g.
// "layer 3 attention.qkv.weight: 767 scales for 768 outputs". Library calls never throw
// across the API and never abort on bad input; they return a Status (or Result<T>).
#pragma once

#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace encore {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // caller passed something unusable (shape, id, option)
  kNotFound,           // a named tensor / file / key does not exist
  kIoError,            // the OS refused: open, read, write, rename, mmap
  kInvalidModel,       // a model or checkpoint file is malformed or inconsistent
  kUnsupported,        // well-formed, but a feature encore does not implement
  kOutOfRange,         // a value outside the range the model accepts (token id, length)
  kResourceExhausted,  // allocation or a configured limit
  kInternal,           // a bug in encore or a dependency reported failure
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "context: message", for adding where an error happened as it propagates up.
  Status with_context(std::string_view context) const;
  // "code_name: message", for printing.
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

Status invalid_argument(std::string message);
Status not_found(std::string message);
Status io_error(std::string message);
Status invalid_model(std::string message);
Status unsupported(std::string message);
Status out_of_range(std::string message);
Status resource_exhausted(std::string message);
Status internal_error(std::string message);

// Holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : has_value_(true) { new (&storage_) T(std::move(value)); }  // NOLINT
  Result(Status status) : status_(std::move(status)) {                          // NOLINT
    if (status_.ok()) status_ = internal_error("Result constructed from an OK status");
  }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  Result(Result&& other) noexcept : status_(std::move(other.status_)), has_value_(other.has_value_) {
    if (has_value_) new (&storage_) T(std::move(*other.ptr()));
  }
  Result& operator=(Result&& other) noexcept {
    if (this == &other) return *this;
    if (has_value_) ptr()->~T();
    status_ = std::move(other.status_);
    has_value_ = other.has_value_;
    if (has_value_) new (&storage_) T(std::move(*other.ptr()));
    return *this;
  }
  ~Result() {
    if (has_value_) ptr()->~T();
  }

  bool ok() const { return has_value_; }
  const Status& status() const { return status_; }
  T& value() & { return *ptr(); }
  const T& value() const& { return *ptr(); }
  T&& value() && { return std::move(*ptr()); }
  T* operator->() { return ptr(); }
  const T* operator->() const { return ptr(); }
  T& operator*() & { return *ptr(); }
  const T& operator*() const& { return *ptr(); }

 private:
  T* ptr() { return std::launder(reinterpret_cast<T*>(&storage_)); }
  const T* ptr() const { return std::launder(reinterpret_cast<const T*>(&storage_)); }

  Status status_;
  bool has_value_ = false;
  std::aligned_storage_t<sizeof(T), alignof(T)> storage_;
};

}  // namespace encore

#define ENCORE_CONCAT_INNER_(a, b) a##b
#define ENCORE_CONCAT_(a, b) ENCORE_CONCAT_INNER_(a, b)

#define ENCORE_RETURN_IF_ERROR(expr)               \
  do {                                             \
    ::encore::Status encore_status_ = (expr);      \
    if (!encore_status_.ok()) return encore_status_; \
  } while (0)

#define ENCORE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#define ENCORE_ASSIGN_OR_RETURN(lhs, expr) \
  ENCORE_ASSIGN_OR_RETURN_IMPL_(ENCORE_CONCAT_(encore_result_, __LINE__), lhs, expr)
