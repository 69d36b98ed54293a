//! The gradient entry of a struct named in `wrt` (or of `self`): a `P::default()` whose fields
//! the body read hold the adjoints of their leaves.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use super::Reverse;
use crate::graph::{Node, NodeId, Op, StructGradient, Ty};

impl Reverse {
    /// The gradient entry of the struct parameter `owner` (`None` for `self`).
    pub(super) fn struct_gradient(&mut self, owner: Option<usize>) -> NodeId {
        let ty = match owner {
            None => quote!(Self),
            Some(i) => {
                let tokens = self.b.with_graph(|g| g.params[i].ty_tokens.clone());
                by_value(tokens)
            }
        };
        let leaves: Vec<_> = self.b.with_graph(|g| {
            g.fields
                .iter()
                .filter(|f| f.owner == owner && f.active)
                .cloned()
                .collect()
        });
        let mut fields = Vec::new();
        let mut args = Vec::new();
        for leaf in leaves {
            if let Some(n) = leaf.node {
                let node = self.b.node(n);
                if !node.active {
                    continue;
                }
                if let Some(g) = self.final_adjoint(n, &node) {
                    fields.push((leaf.path.clone(), false));
                    args.push(g);
                }
            }
            if let Some(v) = leaf.var
                && let Some(&d) = self.var_adjoint.get(&v)
            {
                let read = self.read_node(d);
                fields.push((leaf.path.clone(), true));
                args.push(read);
            }
        }
        self.b.with_graph(|g| {
            g.push(Node::new(
                Op::Gradient(StructGradient { ty, fields }),
                args,
                Ty::Other,
            ))
        })
    }
}

/// `P` for a parameter of type `P` or `&P`.
pub(crate) fn by_value(tokens: TokenStream) -> TokenStream {
    match syn::parse2::<syn::Type>(tokens.clone()) {
        Ok(syn::Type::Reference(r)) => r.elem.to_token_stream(),
        _ => tokens,
    }
}
