#include "util/error.h"

namespace swd {

const char* errorKindName(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::BadInput:
            return "bad input";
        case ErrorKind::Unsupported:
            return "unsupported";
        case ErrorKind::Cancelled:
            return "cancelled";
        case ErrorKind::Internal:
            return "internal error";
    }
    return "error";
}

int exitCodeFor(const std::exception& e) {
    if (const auto* err = dynamic_cast<const Error*>(&e)) {
        switch (err->kind()) {
            case ErrorKind::BadInput:
            case ErrorKind::Unsupported:
                return 2;
            case ErrorKind::Cancelled:
                return 130;
            case ErrorKind::Internal:
                return 1;
        }
    }
    return 1;
}

}  // namespace swd
