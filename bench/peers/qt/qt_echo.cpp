// SPDX-License-Identifier: MIT
// qt_echo PATH: the Qt 5 QLocalServer peer for the echo benchmarks, written the way a
// Qt application would: readyRead -> write(readAll()). QLocalSocket buffers writes
// without limit, which is Qt's own behaviour and part of what this peer measures.
#include <QCoreApplication>
#include <QLocalServer>
#include <QLocalSocket>
#include <QSocketNotifier>
#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

static int sigpipe[2];

static void on_signal(int)
{
	char c = 1;
	// Only write() is async-signal-safe; the event loop does the quitting.
	(void)!write(sigpipe[1], &c, 1);
}

int main(int argc, char **argv)
{
	QCoreApplication app(argc, argv);
	if (argc != 2) {
		std::fprintf(stderr, "usage: qt_echo PATH\n");
		return 2;
	}

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sigpipe) < 0)
		return 1;
	QSocketNotifier sn(sigpipe[0], QSocketNotifier::Read);
	QObject::connect(&sn, &QSocketNotifier::activated, &app, &QCoreApplication::quit);
	struct sigaction sa = {};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	std::signal(SIGPIPE, SIG_IGN);

	const QString path = QString::fromLocal8Bit(argv[1]);
	QLocalServer server;
	QLocalServer::removeServer(path);
	if (!server.listen(path)) {
		std::fprintf(stderr, "qt_echo: cannot listen on '%s': %s\n", argv[1],
			     qPrintable(server.errorString()));
		return 1;
	}

	QObject::connect(&server, &QLocalServer::newConnection, [&server]() {
		while (QLocalSocket *s = server.nextPendingConnection()) {
			QObject::connect(s, &QLocalSocket::readyRead, s, [s]() { s->write(s->readAll()); });
			QObject::connect(s, &QLocalSocket::disconnected, s, &QObject::deleteLater);
		}
	});
	return app.exec();
}
