//! The listening socket, and the options every accepted connection is given.

use std::any::Any;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use socket2::{Domain, Protocol, SockRef, Socket, Type};

/// Binds `address` with room for `backlog` connections waiting to be accepted (std's
/// `TcpListener::bind` always asks for 128). The kernel caps it at `net.core.somaxconn`.
pub fn bind(address: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // As std does: a restarted server can bind while old connections are in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// The hook that gives an accepted connection its write timeout: `TCP_USER_TIMEOUT`, after
/// which the kernel aborts a connection whose written data stays unacknowledged, or whose peer
/// keeps its receive window shut (a client that stopped reading). The HTTP framework has no
/// write timeout of its own, and the abort frees what the connection held: its answer, and the
/// answer's admission slot.
pub(super) fn on_connect(
    write_timeout: Duration,
) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static {
    move |connection, _| {
        let Some(stream) = connection.downcast_ref::<TcpStream>() else {
            return;
        };
        if let Err(err) = SockRef::from(stream).set_tcp_user_timeout(Some(write_timeout)) {
            tracing::debug!(error = %err, "cannot set the connection's write timeout");
        }
    }
}
