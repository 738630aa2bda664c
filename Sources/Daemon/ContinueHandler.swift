import HTTPTypes
import NIOHTTPTypes
import NIOCore

/// Answers `Expect: 100-continue` with an interim 100 as soon as the request head arrives.
/// curl sends that header with every body over 1 MB and, without an answer, waits a second
/// before sending the body: a second added to every large match, verify or remix. A request the
/// route refuses early still gets its final answer; the body is then read and dropped as usual.
final class ContinueHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case let .head(head) = unwrapInboundIn(data), head.headerFields[.expect]?.lowercased() == "100-continue" {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        }
        context.fireChannelRead(data)
    }
}
