"""Weight-space symmetry of MLPs: neuron operations (permute, split with ratio γ, zero-type
neurons, merge), the Fukumizu–Amari matrix and the saddle line, equal-loss valley paths,
counting of permutation points and symmetry-induced critical subspaces, and permutation
alignment by weight matching.

Critical points to apply them to come from `toymodels.dynamics` (`minimize`,
`find_critical_point`, `classify`); Hessians from `toymodels.landscape.hessian`; losses along
paths and barriers from `toymodels.landscape` (`trajectory_values`, `interpolate`,
`barrier_height`)."""

from ._alignment import (
    PermutationSpec as PermutationSpec,
    apply_permutations as apply_permutations,
    chain_permutation_spec as chain_permutation_spec,
    linear_assignment as linear_assignment,
    weight_matching as weight_matching,
)
from ._counting import (
    FORMULA_STATUS as FORMULA_STATUS,
    CriticalSubspaces as CriticalSubspaces,
    GlobalMinSubspaces as GlobalMinSubspaces,
    enumerate_critical_subspaces as enumerate_critical_subspaces,
    enumerate_global_min_subspaces as enumerate_global_min_subspaces,
    enumerate_permutation_points as enumerate_permutation_points,
    num_critical_subspaces as num_critical_subspaces,
    num_global_min_subspaces as num_global_min_subspaces,
    num_global_minima as num_global_minima,
    num_permutation_points as num_permutation_points,
    stirling2 as stirling2,
)
from ._neurons import (
    MinimaSegment as MinimaSegment,
    NeuronMatch as NeuronMatch,
    add_zero_neurons as add_zero_neurons,
    check_mlp as check_mlp,
    flat_vector as flat_vector,
    fukumizu_amari_matrix as fukumizu_amari_matrix,
    incoming as incoming,
    line_curvature as line_curvature,
    match_neurons as match_neurons,
    merge_neurons as merge_neurons,
    minima_segment as minima_segment,
    outgoing as outgoing,
    permute_neurons as permute_neurons,
    remove_neurons as remove_neurons,
    saddle_line_direction as saddle_line_direction,
    split_neuron as split_neuron,
    width as width,
)
from ._valley import transposition as transposition, valley_path as valley_path
