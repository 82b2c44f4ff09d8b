import Mustache

/// The pages' HTML: Mustache templates in `Assets/templates/`, which escape every value unless a
/// template says otherwise (none does), rendered from page models of plain stored properties.
///
/// A page template extends `layout` (`{{<layout}}…{{/layout}}`) and fills its `content` block
/// from `data`, the page's model; `page` holds what the layout needs (title, scripts, menu).
/// Optional values are looked up with a leading dot (`{{#.hint}}`): Mustache would otherwise
/// look for a missing value in the enclosing objects and might find another one's.
package enum Views {
    /// Every template by its file name without `.mustache`, parsed once; a template that does not
    /// parse stops the service at its first page, and the tests render every page.
    package static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for asset in WebAssets.all.values where asset.path.hasPrefix("templates/") && asset.path.hasSuffix(".mustache") {
            let name = String(asset.path.dropFirst("templates/".count).dropLast(".mustache".count))
            do {
                try library.register(asset.text, named: name)
            } catch {
                preconditionFailure("template \(asset.path) does not parse: \(error)")
            }
        }
        return library
    }()

    /// `model` rendered with the template named `template`.
    package static func render(_ model: Any, template: String) -> String {
        guard let html = library.render(model, withTemplate: template) else { preconditionFailure("no template \(template)") }
        return html
    }
}
