#include "util/error.h"

namespace swd {

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
