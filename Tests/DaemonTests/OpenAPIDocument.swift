import Daemon
import Foundation
import Yams

/// docs/openapi.yaml, and a check of a reply against it: the status must be documented for the
/// route, and a JSON body must satisfy the response's schema (the subset of JSON Schema the
/// document uses: $ref, oneOf, type, required, properties, additionalProperties, items, enum, minimum,
/// maximum, pattern).
struct OpenAPIDocument: @unchecked Sendable {
    let root: [String: Any]

    static let shared: OpenAPIDocument = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/", !FileManager.default.fileExists(atPath: directory.appendingPathComponent("docs/openapi.yaml").path) {
            directory.deleteLastPathComponent()
        }
        let text = (try? String(contentsOf: directory.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)) ?? ""
        return OpenAPIDocument(root: ((try? Yams.load(yaml: text)) as? [String: Any]) ?? [:])
    }()

    var paths: [String: Any] { root["paths"] as? [String: Any] ?? [:] }

    /// Problems with the reply; empty when it conforms.
    func problems(path: String, method: String, reply: DaemonClient.Reply) -> [String] {
        guard let operation = (paths[path] as? [String: Any])?[method.lowercased()] as? [String: Any] else {
            return ["\(method) \(path) is not in docs/openapi.yaml"]
        }
        guard var response = (operation["responses"] as? [String: Any])?[String(reply.status)] as? [String: Any] else {
            return ["status \(reply.status) is not documented for \(method) \(path)"]
        }
        if let ref = response["$ref"] as? String { response = resolve(ref) }
        let content = response["content"] as? [String: Any] ?? [:]
        let type = reply.header("Content-Type")?.split(separator: ";").first.map(String.init) ?? ""
        guard let media = content[type] as? [String: Any] else {
            return ["Content-Type \(type) is not documented for \(reply.status) of \(method) \(path)"]
        }
        guard type == "application/json", let schema = media["schema"] as? [String: Any] else { return [] }
        guard let value = try? JSONSerialization.jsonObject(with: Data(reply.body), options: [.fragmentsAllowed]) else {
            return ["the body is not JSON: \(reply.text)"]
        }
        return validate(value, schema, at: "$")
    }

    /// Problems with a JSON document (a header's value, say) against one of the document's schemas.
    func problems(json: Data, schema name: String) -> [String] {
        guard let value = try? JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed]) else {
            return ["not JSON: \(String(decoding: json, as: UTF8.self))"]
        }
        return validate(value, resolve("#/components/schemas/\(name)"), at: "$")
    }

    private func resolve(_ ref: String) -> [String: Any] {
        var node: Any = root
        for part in ref.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(part)] ?? [:] }
        return node as? [String: Any] ?? [:]
    }

    private func validate(_ value: Any, _ schemaIn: [String: Any], at path: String) -> [String] {
        var schema = schemaIn
        if let ref = schema["$ref"] as? String { schema = resolve(ref) }
        if let branches = schema["oneOf"] as? [[String: Any]] {
            let passing = branches.filter { validate(value, $0, at: path).isEmpty }.count
            return passing == 1 ? [] : ["\(path): \(value) matches \(passing) of the oneOf branches, not exactly one"]
        }
        let types = (schema["type"] as? [String]) ?? (schema["type"] as? String).map { [$0] } ?? []
        if !types.isEmpty, !types.contains(where: { Self.value(value, is: $0) }) {
            return ["\(path): \(value) is not of type \(types.joined(separator: "|"))"]
        }
        var problems: [String] = []
        if let allowed = schema["enum"] as? [Any], !allowed.contains(where: { "\($0)" == "\(value)" }) {
            problems.append("\(path): \(value) is not one of \(allowed)")
        }
        if let number = value as? Double, !(value is Bool) {
            if let minimum = (schema["minimum"] as? NSNumber)?.doubleValue, number < minimum { problems.append("\(path): \(number) < \(minimum)") }
            if let maximum = (schema["maximum"] as? NSNumber)?.doubleValue, number > maximum { problems.append("\(path): \(number) > \(maximum)") }
        }
        if let text = value as? String, let pattern = schema["pattern"] as? String, text.range(of: pattern, options: .regularExpression) == nil {
            problems.append("\(path): '\(text)' does not match \(pattern)")
        }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil {
                problems.append("\(path): required key \(key) is missing")
            }
            for (key, item) in object {
                if let property = properties[key] as? [String: Any] {
                    problems += validate(item, property, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    problems.append("\(path): key \(key) is not in the schema")
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            for (i, item) in array.enumerated() { problems += validate(item, items, at: "\(path)[\(i)]") }
        }
        return problems
    }

    private static func value(_ value: Any, is type: String) -> Bool {
        switch type {
        case "null": return value is NSNull
        case "string": return value is String
        case "boolean": return value is Bool
        case "integer": return (value as? NSNumber).map { $0.doubleValue.rounded() == $0.doubleValue } ?? false
        case "number": return value is NSNumber
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        default: return false
        }
    }
}
