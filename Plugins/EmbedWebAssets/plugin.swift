import Foundation
import PackagePlugin

/// Compiles the web assets of a target (its `Assets` folder: templates, scripts, the stylesheet)
/// into Swift source, so the service stays one self-contained binary (a gate server's install is
/// one file) while the assets stay files that linters, formatters and tests see.
@main
struct EmbedWebAssets: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let assets = target.directoryURL.appending(path: "Assets")
        let enumerator = FileManager.default.enumerator(at: assets, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        var inputs: [URL] = []
        while let file = enumerator?.nextObject() as? URL {
            if (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { inputs.append(file) }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedAssets.swift")
        return [
            .buildCommand(
                displayName: "Embedding the web assets of \(target.name)",
                executable: try context.tool(named: "embed-web-assets").url,
                arguments: [assets.path, output.path],
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
