// SPDX-License-Identifier: Apache-2.0
// sdbus-c++ 1.2.0 driven from the daemon's single Asio loop: connections, the bridge that
// feeds sd-bus from the loop, and coroutine helpers for asynchronous method calls.
#pragma once

#include "core/error.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Message.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace credrotd::dbus {

template <class T> using Task = boost::asio::awaitable<T>;

enum class BusKind {
  system,  // $DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket
  session, // $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus (credrotd --user)
};

// Opens a connection to a message bus. The handshake (connect, authenticate, Hello) is
// synchronous, as sdbus-c++ 1.2.0 does it in its constructor: call these at start-up, before
// the loop serves anything. Errors: transient (no bus at that address, refused, handshake
// failed), with the address or bus kind in the message.
core::Result<std::unique_ptr<sdbus::IConnection>> open_bus(BusKind kind);
// `address` in D-Bus syntax ("unix:path=/run/user/0/bus"); tests use a private dbus-daemon.
// When it fails, sdbus-c++ 1.2.0 leaks its half-made sd_bus object (about 2 KiB): harmless
// for a start-up error, but LeakSanitizer reports it.
core::Result<std::unique_ptr<sdbus::IConnection>> open_bus_at(const std::string& address);

// Drives one sdbus::IConnection from an Asio executor: waits for the bus fd to become
// readable (or writable while sd-bus has output queued) and for sd-bus's next deadline (method
// call timeouts), then lets sd-bus process what is pending. Every D-Bus callback (method
// handlers of objects, async replies, signal handlers) therefore runs on the loop thread,
// inside a handler of this bridge.
//
// Contract:
// - Use the connection only from the loop thread, and never with a synchronous call
//   (IProxy::callMethod without a callback, Message::getCreds*, requestName) once start() was
//   called: with no sdbus event-loop thread, such a call blocks the whole loop until the peer
//   answers. Use call() below. Never call enterEventLoop()/enterEventLoopAsync().
// - After anything that gives sd-bus new work outside a D-Bus callback (sending a reply from
//   an async method handler later, emitting a signal from a timer, starting a call), call
//   wake(): sd-bus may now have output queued or a new deadline. call() does it itself.
// - The bridge borrows the connection: destroy the bridge first. It never closes the bus fd
//   (sd-bus owns it). Completions in flight after stop() or destruction are ignored.
// - When sd-bus reports the connection broken (the bus went away), the bridge stops, keeps
//   the error in failure() and calls the failure handler once. Calls pending at that moment
//   complete with an error; later calls fail at once with Errc::transient.
class BusBridge {
public:
  BusBridge(boost::asio::any_io_executor executor, sdbus::IConnection& connection);
  ~BusBridge();
  BusBridge(const BusBridge&) = delete;
  BusBridge& operator=(const BusBridge&) = delete;

  // Registers the bus fd with the loop and processes whatever is already pending. Idempotent.
  // Check running() afterwards: if the fd cannot be watched, the bridge fails as described
  // above (failure() set, handler called).
  void start();
  // Stops driving the connection; the fd is released, not closed.
  void stop() noexcept;
  // Schedules a "process, then wait again" pass on the loop. Cheap, coalesced, and safe to
  // call from inside D-Bus callbacks (sd-bus must not be re-entered there, so it is posted).
  void wake() noexcept;

  bool running() const noexcept;
  // The error that stopped the bridge, if the connection broke.
  std::optional<core::Error> failure() const;
  // Called once, on the loop thread, when the connection breaks.
  void on_failure(std::function<void(const core::Error&)> handler);

  sdbus::IConnection& connection() const noexcept;
  boost::asio::any_io_executor executor() const;

  struct State; // opaque; shared with the completion handlers, which hold it weakly

private:
  std::shared_ptr<State> m_state;
};

// The core error code for a D-Bus error name:
//   NoReply, Timeout, TimedOut                                   -> timeout
//   ServiceUnknown, NameHasNoOwner, Disconnected, NoServer,
//   LimitsExceeded, NoMemory                                     -> transient
//   AccessDenied, AuthFailed, InteractiveAuthorizationRequired   -> forbidden
//   UnknownMethod, UnknownObject, UnknownInterface,
//   UnknownProperty, org.freedesktop.systemd1.NoSuchUnit         -> not_found
//   org.freedesktop.systemd1.AlreadySubscribed                   -> conflict
//   anything else                                                -> protocol
// (unqualified names above are in org.freedesktop.DBus.Error.)
core::Errc errc_from_dbus_error(std::string_view name) noexcept;

// "<what>: <name>: <message>", with the code from errc_from_dbus_error(). The D-Bus error
// name stays in the message so that an operator can search for it.
core::Error from_dbus_error(std::string_view what, std::string_view name, std::string_view message);

// Sends `message` (made by proxy.createMethodCall and filled with arguments) and waits for
// the reply without blocking the loop. sd-bus enforces `timeout` (> 0); its NoReply error
// arrives through the bridge's timer. `proxy` must be bound to bridge.connection() and must,
// like the bridge, outlive the returned awaitable. Abandoning the coroutine (destroying it or
// cancelling it through its cancellation slot) cancels delivery of the reply.
//
// Success: the method reply, positioned at its first argument. Errors: the D-Bus error mapped
// by from_dbus_error() with "<interface>.<method> on <destination>" as `what`; transient when
// the bridge is not running; cancelled when the wait was cancelled.
Task<core::Result<sdbus::MethodReply>> call(BusBridge& bridge, sdbus::IProxy& proxy,
                                            sdbus::MethodCall message,
                                            std::chrono::milliseconds timeout);

// The uid of the process behind a bus connection (a message's sender, ":1.42"), asked of the
// bus driver with org.freedesktop.DBus.GetConnectionUnixUser through call(). Use this to
// authorize callers: Message::getCredsUid() may make a synchronous call to the driver.
// Errors: those of call(); the driver answers NameHasNoOwner (transient) when the caller has
// disconnected meanwhile: authorization must then fail closed.
Task<core::Result<uid_t>> caller_uid(BusBridge& bridge, std::string sender,
                                     std::chrono::milliseconds timeout);

// Acquires a well-known bus name without queueing (org.freedesktop.DBus.RequestName with
// DBUS_NAME_FLAG_DO_NOT_QUEUE), asynchronously; IConnection::requestName() would block.
// Success: this connection is the primary owner (also when it already was). Errors: conflict
// when another connection owns the name; forbidden when the bus policy refuses it; those of
// call().
Task<core::Status> request_name(BusBridge& bridge, std::string name,
                                std::chrono::milliseconds timeout);

} // namespace credrotd::dbus
